"""Publishing an exported ``datasets`` folder (and its card) on the Hugging Face Hub, with one clear error when the
Hub cannot be reached or refuses, so an offline machine keeps its export and learns how to push it later."""

from pathlib import Path

from socialsim.errors import SocialsimError

CARD = "README.md"


def _network(exc: Exception) -> bool:
    """A connection failure, from the socket or from the HTTP client the Hub library uses (httpx, httpx2)."""
    return isinstance(exc, OSError) or any(
        cls.__name__ == "TransportError" and cls.__module__.split(".")[0] in ("httpx", "httpx2")
        for cls in type(exc).__mro__)


def _problem(exc: Exception) -> tuple[str, str] | None:
    """(message, hint) for the errors of a push that are not bugs; None for anything else."""
    from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError, OfflineModeIsEnabled

    if isinstance(exc, OfflineModeIsEnabled):
        return "the Hugging Face Hub is switched off on this machine (HF_HUB_OFFLINE)", "unset HF_HUB_OFFLINE"
    if isinstance(exc, LocalTokenNotFoundError):
        return "not logged in to the Hugging Face Hub", "run `hf auth login` or set HF_TOKEN"
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403):
            return f"the Hugging Face Hub refused the upload (HTTP {status})", "run `hf auth login` or set HF_TOKEN " \
                "to a token that may write to this repository"
        return f"the Hugging Face Hub answered an error: {str(exc).splitlines()[0]}", "try again later"
    if _network(exc):
        return f"cannot reach the Hugging Face Hub ({type(exc).__name__}: {exc})", "check the network connection"
    return None


def push_to_hub(folder: Path, repo_id: str, *, private: bool = False) -> str:
    """Push the dataset saved in ``folder`` (``Dataset.save_to_disk``) and its README.md card to ``repo_id``;
    returns the dataset's URL."""
    from datasets import load_from_disk
    from huggingface_hub import DatasetCard

    try:
        load_from_disk(str(folder)).push_to_hub(repo_id, private=private)
        if (folder / CARD).is_file():
            DatasetCard((folder / CARD).read_text(encoding="utf-8")).push_to_hub(repo_id, repo_type="dataset")
    except Exception as exc:
        problem = _problem(exc)
        if problem is None:
            raise
        message, hint = problem
        raise SocialsimError(f"not pushed to {repo_id}: {message}",
                             f"{hint}; the export and its card are kept in {folder}: push them later with "
                             f"`hf upload {repo_id} {folder} --repo-type dataset`") from None
    return f"https://huggingface.co/datasets/{repo_id}"
