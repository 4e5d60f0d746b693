"""Hub model cards of adapters and runs (``model_cards.card``); the study report is ``model_cards.report``."""
