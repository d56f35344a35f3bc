"""Text metrics, following the ESC literature's conventions (the thu-coai ESC code; see docs/chatbot.md)."""
