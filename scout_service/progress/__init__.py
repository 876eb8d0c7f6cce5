"""Progress events from runs to streams, across reconnects and replicas."""

from scout_service.progress.broker import ProgressBroker
from scout_service.progress.subscriber import Subscription

__all__ = ["ProgressBroker", "Subscription"]
