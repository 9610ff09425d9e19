"""A row that never reaches its end marker stops at the model's last position, not past it."""

from pathlib import Path

from generator.ml.config import SamplingSettings
from generator.ml.format import pitch_prompt
from generator.ml.sampling import Sampler


def test_hot_rows_longer_than_the_model_allows_end_unfinished_not_in_an_error(
    trained_checkpoint: Path,
) -> None:
    sampler = Sampler(trained_checkpoint, device="cpu")
    positions = sampler.model.config.max_position_embeddings
    prompt = pitch_prompt("tv", ["TV Horror"], "The Lighthouse Keeper's Long Winter Of Echoes")
    settings = SamplingSettings(temperature=5.0, top_k=0, top_p=1.0, max_new_tokens=1024, seed=2)

    samples = sampler.generate(prompt, 4, settings)

    prompt_tokens = len(sampler.tokenizer.encode(prompt, add_special_tokens=False))
    assert max(sample.new_tokens for sample in samples) <= positions - prompt_tokens
    assert any(not sample.reached_end for sample in samples)  # cut at the limit, marked unfinished
