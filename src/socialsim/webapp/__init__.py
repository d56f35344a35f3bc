"""Local web app: browse corpora, run human evaluations, chat with a chatbot (``socialsim serve``)."""

from socialsim.webapp.annotations import AnnotationStore
from socialsim.webapp.app import build, create_app, create_task_from_index
from socialsim.webapp.corpus_index import CorpusIndex, Filters
from socialsim.webapp.judgements import Judgements, load_judgements
from socialsim.webapp.results import export, to_csv, to_json

__all__ = ["AnnotationStore", "CorpusIndex", "Filters", "Judgements", "build", "create_app",
           "create_task_from_index", "export", "load_judgements", "to_csv", "to_json"]
