"""A task, resolved once: the name people use, the text the models see, and the decision budget."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

DEFAULT_BUDGET = 8  # decisions per episode of a task no catalog knows


@dataclass(frozen=True)
class Task:
    name: str  # for logs, file names and episode records (a catalog's name, or the text itself)
    text: str  # the instruction the proposer, the policy and the success detector are given
    max_decisions: int


class TaskCatalog(Protocol):
    """Named tasks of a backend (the simulator's suite); a real robot is given the task text itself."""

    def lookup(self, name_or_text: str) -> Task | None: ...


def resolve_task(name_or_text: str, catalogs: Iterable[TaskCatalog] = (), max_decisions: int = 0) -> Task:
    """Return the task a name or text means: the first catalog that knows it, else the text as given.

    max_decisions > 0 overrides the catalog's budget; a task no catalog knows gets DEFAULT_BUDGET.
    """
    if not name_or_text or not name_or_text.strip():
        raise ValueError('the task is empty: give a task name or the task text')
    if max_decisions < 0:
        raise ValueError(f'max_decisions must be >= 0, got {max_decisions}')
    for catalog in catalogs:
        task = catalog.lookup(name_or_text)
        if task is not None:
            break
    else:
        task = Task(name=name_or_text.strip(), text=name_or_text.strip(), max_decisions=DEFAULT_BUDGET)
    if max_decisions:
        task = Task(task.name, task.text, max_decisions)
    return task
