"""The task engine: one runner of many items under every stage (persona build, simulation, judging, interactive
and chatbot evaluation). A stage defines a :class:`Task`; :func:`run_task` (or :func:`run_task_on_ray`) runs it."""

from socialsim.engine.runner import RunOptions, RunReport, run_task
from socialsim.engine.task import Item, Record, Task

__all__ = ["Item", "Record", "RunOptions", "RunReport", "Task", "run_task"]
