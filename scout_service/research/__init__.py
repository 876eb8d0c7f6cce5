"""Research with evidence: the tools that let agents gather sources beyond the plan."""
