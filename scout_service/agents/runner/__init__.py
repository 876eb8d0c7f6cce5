"""Research runs: four specialist agents in parallel, then the synthesis agent.

A run executes as asyncio tasks on whichever replica claims it. The
replica that accepts ``StartResearch`` runs it at once when it has a free
slot; otherwise the run waits in the fleet's queue (``agents/queue.py``:
stored QUEUED with no lease owner) and any replica with a free slot claims
it. Each agent is a fresh strands ``Agent`` with its own model instance,
its system prompt, its save tool bound to the run's session and report
kind, and hooks that record progress. The run's state lives in the store
and changes only by conditional writes (``Run.version``), so exactly one
replica executes a run at a time:

- the owner renews its lease every ``lease_renew_interval_s``; a renewal
  that loses its write reads the stored run and so notices a cancel
  requested through another replica, or that the run was taken over;
- every replica with a free slot reads the queue once per
  ``claim_interval_s`` (queued runs, and runs whose lease expired) and
  claims runs with a conditional write; a resumed run re-runs only the
  agents whose report for this run is not saved, and continues the run's
  event sequence;
- ``shutdown`` stops claiming and the local agents and hands the runs back
  at once (lease released, state unchanged) for another replica or a restart.

The package is one class, ``ResearchRunner``, built in layers; each module
adds one responsibility and uses only the layers below it::

    settings.py    RunnerSettings: limits and timings
    local.py       _LocalRun (one run executing here), Stop (why it stops)
    base.py        the collaborators; conditional writes of the stored run
    documents.py   the run's files resolved, read, extracted and indexed
    invoke.py      one strands agent built, invoked, its findings and report stored
    steps.py       which agents run, in which order; the synthesis agent's input
    states.py      the run state machine and its terminal events
    leases.py      lease renewal, abandoning a lost run, the claim scan
    admission.py   per-owner limits, slots, a new run started here or queued
    facade.py      ResearchRunner: start, shutdown, cancel, ask

Nothing here logs document text, prompts or reports: ids and states only.
"""

from scout_service.agents.runner.facade import ResearchRunner
from scout_service.agents.runner.leases import QUEUE_READ_LIMIT
from scout_service.agents.runner.local import ModelFactory, Stop, _keep_threads_untraced, _LocalRun
from scout_service.agents.runner.settings import RunnerSettings
from scout_service.agents.runner.states import TERMINAL_EVENT_MAX_DELAY_S

__all__ = [
    "QUEUE_READ_LIMIT",
    "TERMINAL_EVENT_MAX_DELAY_S",
    "ModelFactory",
    "ResearchRunner",
    "RunnerSettings",
    "Stop",
    "_LocalRun",
    "_keep_threads_untraced",
]
