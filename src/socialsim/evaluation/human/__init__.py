"""Human evaluation: tasks of single dialogues (rated 1-5) or blind A/B pairs, their ratings, and the results
(agreement, comparison with the LLM judge). The web app (``socialsim serve``) and ``socialsim annotate`` are two
surfaces over this package."""

from socialsim.evaluation.human.results import export, to_csv, to_json
from socialsim.evaluation.human.store import AnnotationStore, SubmissionError, Task, new_token
from socialsim.evaluation.human.tasks import sample_task

__all__ = ["AnnotationStore", "SubmissionError", "Task", "export", "new_token", "sample_task", "to_csv", "to_json"]
