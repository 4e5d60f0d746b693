"""LiveCodeBench evaluation: benchmark loading, generation, extraction, sandboxed judge, metrics, results."""
