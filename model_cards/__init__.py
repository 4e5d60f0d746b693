"""Hub model cards (``model_cards.card``) and the study report (``python -m model_cards.report``)."""
