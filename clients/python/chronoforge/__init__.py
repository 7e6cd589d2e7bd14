"""chronoforge producer: enqueue durable workflows for the chronoforge worker from Python.

    from chronoforge import Client
    client = Client("redis://127.0.0.1:6379/0")
    jid = client.enqueue("OrderWorkflow", "order-42", {"order_id": 42}, queue="orders")
"""

from .client import Client, Job
from .control import ControlResult
from .envelope import InvalidJob, InvalidJobType

__all__ = ["Client", "ControlResult", "Job", "InvalidJob", "InvalidJobType"]
__version__ = "0.1.0"
