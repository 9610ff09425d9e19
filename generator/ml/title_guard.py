"""Sampling that never closes a title on a real one. Plain Python and torch: no Django.

A record's title runs from "Title:" to the " | " before its description. `RealTitleGuard` is a
logits processor: at each decoding step, for every row still writing its title, it forbids the
tokens that would close the title ("|" and any token holding one) where the title so far, with
what the token adds before its "|", is a real title. The model then writes on ("The Spy" becomes
"The Spy Who Stayed", say) instead of the sample being thrown away afterwards. Titles are folded
as the overfit check folds them, by the predicate the caller gives (`Detector.has_title`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import cast

import torch
from transformers import LogitsProcessor, PreTrainedTokenizerBase

from generator.ml.format import SEPARATOR, TITLE_MARK

TitlePredicate = Callable[[str], bool]
CLOSER = SEPARATOR.strip()


def closing_tokens(tokenizer: PreTrainedTokenizerBase) -> dict[str, list[int]]:
    """Ids of the tokens holding a "|", grouped by the text each adds before it."""
    grouped: dict[str, list[int]] = {}
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    for token_id, piece in enumerate(pieces):
        if piece is None or CLOSER not in piece:  # byte-level and sentencepiece keep "|" as is
            continue
        text = str(tokenizer.decode([token_id]))
        if CLOSER in text:
            grouped.setdefault(text.split(CLOSER, 1)[0], []).append(token_id)
    return grouped


class RealTitleGuard(LogitsProcessor):
    """Forbids closing a row's title where it would be a real one (see the module's docstring)."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        closers: Mapping[str, list[int]],
        is_real_title: TitlePredicate,
        prompt: str,
        prompt_length: int,
    ) -> None:
        self.tokenizer = tokenizer
        self.closers = closers
        self.is_real_title = is_real_title
        self.prompt = prompt
        self.prompt_length = prompt_length
        self.closed: set[int] = set()  # rows past their title: nothing more to guard
        # Rows kept from a real title at a step where closing it was their likeliest token.
        self.steered: set[int] = set()

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        restricted = self.restrict(input_ids, scores, list(range(input_ids.shape[0])))
        return cast(torch.FloatTensor, restricted)

    def restrict(
        self, input_ids: torch.Tensor, scores: torch.Tensor, rows: list[int]
    ) -> torch.Tensor:
        """As `__call__`, for a batch whose position i holds row `rows[i]` (rows that finished
        have left it)."""
        for position, row in enumerate(rows):
            if row in self.closed:
                continue
            title = self._title_so_far(input_ids[position, self.prompt_length :])
            if title is None:
                continue
            if CLOSER in title:
                self.closed.add(row)
                continue
            banned = [
                token_id
                for head, ids in self.closers.items()
                if self.is_real_title(title + head)
                for token_id in ids
            ]
            if banned:
                # Counted where closing was the likeliest next token, not merely allowed.
                if scores[position, banned].max() >= scores[position].max():
                    self.steered.add(row)
                scores[position, banned] = float("-inf")
        return scores

    def _title_so_far(self, generated: torch.Tensor) -> str | None:
        text = self.prompt + str(self.tokenizer.decode(generated, skip_special_tokens=True))
        start = text.rfind(TITLE_MARK)
        return None if start < 0 else text[start + len(TITLE_MARK) :]
