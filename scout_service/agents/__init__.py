"""Scout's research agents on strands-agents.

``ResearchRunner`` executes runs: four specialist agents (market,
competition, price, legal) in parallel, then a synthesis agent, each a
strands ``Agent`` with its own model and a save tool bound to the run's
session. ``make_model_factory`` picks the model provider; ``OfflineModel``
is the no-network default that writes extractive reports.
"""

from scout_service.agents.offline import OfflineModel
from scout_service.agents.providers import (
    ProviderSettings,
    make_model_factory,
    validate_provider,
)
from scout_service.agents.recorder import EventSink
from scout_service.agents.runner import ResearchRunner, RunnerSettings

__all__ = [
    "EventSink",
    "OfflineModel",
    "ProviderSettings",
    "ResearchRunner",
    "RunnerSettings",
    "make_model_factory",
    "validate_provider",
]
