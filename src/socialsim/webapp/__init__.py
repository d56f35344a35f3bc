"""The local web app (``socialsim serve``): a surface over the corpus index, human evaluation and the chatbot."""

from socialsim.webapp.app import build, create_app

__all__ = ["build", "create_app"]
