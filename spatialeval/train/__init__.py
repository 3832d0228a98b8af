"""The training module: data synthesis from scene graphs, TRL recipes (GRPO, SFT), exports.

Nothing here is imported by the evaluation path; the engines (TRL, accelerate, vLLM) are imported
only inside the functions that need them, so ``spatialeval`` stays light without the ``train`` extra.
"""
