"""Tiny llama-architecture GGUF models whose output is fixed by construction.

No weights can be downloaded, so the tests build them. Each token's embedding is a one-hot
vector; attention and feed-forward weights are zero, so the residual stream at every position
is the embedding of that position's token, and the output matrix maps it straight to logits.
The model is therefore a lookup table "this token -> the next token": `chain` lists, for a
token, the tokens that should follow it, best first. Logits of +60 against 0 make the choice
certain at any temperature a server uses (0.2-1.0), even after its repeat penalty.

The vocabulary is SentencePiece-style ("llama" tokenizer): control tokens for ChatML, the 256
byte tokens (so any text tokenizes, by byte fallback) and a few pieces. The prompts a chat
template renders end in a piece we choose: `"assistant\\n"` after the ChatML generation
prompt, `":\\n"` after llama-cpp-python's `functions.NAME:\\n` for a forced tool call. So what
the model says next depends on which prompt it was given, without any attention at all.
SentencePiece only forms a piece by merging smaller ones that are also in the vocabulary, so
those two come with all their prefixes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import gguf
import numpy as np

CONTROL = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
EOS = "<|im_end|>"
# Pieces the tokenizer must form from prompt text (with every prefix, see above).
PROMPT_ENDS = ["assistant\n", ":\n"]
WINNER, RUNNER_UP = 60.0, 30.0


def byte_token(char: str) -> str:
    return f"<0x{ord(char):02X}>"


def write_model(
    path: Path,
    chain: Mapping[str, Sequence[str]],
    *,
    pieces: Sequence[str] = (),
    context_length: int = 4096,
    n_layers: int = 1,
) -> Path:
    """Write a model to `path`; `chain[token]` = the tokens that may follow it, best first.

    Tokens are pieces as the vocabulary spells them (a space is "▁"), byte tokens as
    `<0x66>`, or the control tokens. A token not in `chain` is followed by the end of turn.
    """
    prompt_pieces = sorted({p[:n] for p in PROMPT_ENDS for n in range(2, len(p) + 1)})
    normal = list(
        dict.fromkeys([*prompt_pieces, *pieces, *chain, *(t for v in chain.values() for t in v)])
    )
    bytes_ = [f"<0x{b:02X}>" for b in range(256)]
    normal = [t for t in normal if t not in CONTROL and t not in bytes_]
    tokens = [*CONTROL, *bytes_, *normal]
    index = {token: i for i, token in enumerate(tokens)}
    types = (
        [gguf.TokenType.UNKNOWN]
        + [gguf.TokenType.CONTROL] * (len(CONTROL) - 1)
        + [gguf.TokenType.BYTE] * 256
        + [gguf.TokenType.NORMAL] * len(normal)
    )
    # SentencePiece merges the best-scored pair first: longer pieces win, so a prompt's last
    # piece is the longest one we put in.
    scores = [0.0] * (len(CONTROL) + 256) + [float(len(t)) for t in normal]

    # One embedding dimension per token that leads somewhere, plus one shared by all others.
    leading = list(chain)
    dims = {token: d for d, token in enumerate(leading, start=1)}
    n_embd = max(16, -(-(len(leading) + 1) // 16) * 16)
    embeddings = np.zeros((len(tokens), n_embd), dtype=np.float32)
    embeddings[:, 0] = 1.0  # "any other token"
    output = np.zeros((len(tokens), n_embd), dtype=np.float32)
    output[index[EOS], 0] = WINNER
    for token, followers in chain.items():
        dim = dims[token]
        embeddings[index[token]] = 0.0
        embeddings[index[token], dim] = 1.0
        for rank, follower in enumerate(followers):
            output[index[follower], dim] = WINNER if rank == 0 else RUNNER_UP / rank

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("agio tiny test model")
    writer.add_context_length(context_length)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(n_embd)
    writer.add_head_count(1)
    writer.add_head_count_kv(1)
    writer.add_rope_dimension_count(n_embd)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(index["<unk>"])
    writer.add_bos_token_id(index["<s>"])
    writer.add_eos_token_id(index[EOS])
    writer.add_add_bos_token(False)
    writer.add_add_space_prefix(False)

    square = np.zeros((n_embd, n_embd), dtype=np.float32)
    ones = np.ones(n_embd, dtype=np.float32)
    writer.add_tensor("token_embd.weight", embeddings)
    for layer in range(n_layers):
        block = f"blk.{layer}"
        writer.add_tensor(f"{block}.attn_norm.weight", ones)
        for name in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"):
            writer.add_tensor(f"{block}.{name}.weight", square)
        writer.add_tensor(f"{block}.ffn_norm.weight", ones)
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
