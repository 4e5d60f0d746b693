"""The Gradio Space: arena, benchmark, leaderboard, study and downloads tabs; ``app.py`` wires them."""
