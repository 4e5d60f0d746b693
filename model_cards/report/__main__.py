from model_cards.report.build import cli

cli()
