"""Text metrics, following the ESC literature's conventions (see SPEC, "Metric conventions")."""
