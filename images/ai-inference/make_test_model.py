"""Write a tiny llama-architecture GGUF model for tests, with the `gguf` package from PyPI.

    python make_test_model.py OUT_DIR [--name aiwfe-tiny]

OUT_DIR/<name>/model.gguf and OUT_DIR/<name>/Modelfile are written; `ollama create <name> -f
OUT_DIR/<name>/Modelfile` registers it. The weights are seeded random numbers: the model
answers with nonsense, but it exercises Ollama's whole path (load, tokenize, generate, embed)
in a few milliseconds and a few hundred kilobytes, so integration tests run with no GPU and no
model download. It is never a stand-in for a real model: its name says what it is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gguf
import numpy as np

# SentencePiece token types (llama.cpp's llama_token_type).
NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6
WORDS = (
    "the a an and or of to in is it on for with as at by be this that from workflow step run "
    "memory task plan data model answer yes no ok done error hello world aiwfe test"
).split()


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    tokens = ["<unk>", "<s>", "</s>"]
    types = [UNKNOWN, CONTROL, CONTROL]
    tokens += [f"<0x{i:02X}>" for i in range(256)]
    types += [BYTE] * 256
    pieces = ["\u2581"] + [f"\u2581{w}" for w in WORDS] + list("abcdefghijklmnopqrstuvwxyz")
    tokens += pieces
    types += [NORMAL] * len(pieces)
    scores = [0.0] * (3 + 256) + [-float(i + 1) for i in range(len(pieces))]
    return tokens, scores, types


def write(out_dir: Path, name: str, seed: int = 10001) -> Path:
    n_embd, n_head, n_layer, n_ff, n_ctx = 64, 4, 2, 128, 512
    tokens, scores, types = vocabulary()
    n_vocab = len(tokens)
    rng = np.random.default_rng(seed)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    target = out_dir / name
    target.mkdir(parents=True, exist_ok=True)
    path = target / "model.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_description("AIWFE test model: tiny, random weights, for integration tests only")
    writer.add_context_length(n_ctx)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_rope_dimension_count(n_embd // n_head)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)

    # numpy shapes are GGML's dimensions reversed: a (rows=out, cols=in) matrix.
    writer.add_tensor("token_embd.weight", weight(n_vocab, n_embd))
    for i in range(n_layer):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", weight(n_embd, n_embd))
        writer.add_tensor(f"blk.{i}.attn_k.weight", weight(n_embd, n_embd))
        writer.add_tensor(f"blk.{i}.attn_v.weight", weight(n_embd, n_embd))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weight(n_embd, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(n_ff, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(n_ff, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(n_embd, n_ff))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("output.weight", weight(n_vocab, n_embd))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    (target / "Modelfile").write_text(
        "# AIWFE test model (tiny, random weights): registered by `aiwfe-entrypoint pull`\n"
        "FROM ./model.gguf\n"
        'TEMPLATE "{{ .Prompt }}"\n'
        "PARAMETER num_ctx 512\n"
        "PARAMETER num_predict 16\n"
        "PARAMETER temperature 0\n"
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--name", default="aiwfe-tiny")
    args = parser.parse_args()
    path = write(args.out_dir, args.name)
    reader = gguf.GGUFReader(str(path))
    print(f"wrote {path} ({path.stat().st_size} bytes, {len(reader.tensors)} tensors)")


if __name__ == "__main__":
    main()
