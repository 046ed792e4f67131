"""seqlab.export.graphs beyond the registry walk of test_export.py: the whole-sequence graph
of a language model whose state grows (a transformer's key/value cache) holds for every
length whatever it was traced on, exports to TorchScript with a working predict.py, and is
refused with the fix when the model does not declare it; a classifier with a table of
learned positions exports when its run cuts texts to that table."""

from __future__ import annotations

import runpy

import numpy as np
import pytest
import torch

import seqlab as sl
from _toy_reviews import toy_reviews
from seqlab.export import export
from seqlab.export.graphs import LanguageModelSequence, max_width
from seqlab.lm.data import CharVocabulary
from seqlab.lm.model import LanguageModel
from seqlab.models.gpt import TransformerLanguageModel

pytestmark = pytest.mark.usefixtures("one_thread")

TEXT = "the will to truth, the will to power; truthfulness and the will to live. " * 3


def _tiny_lm(cls=TransformerLanguageModel) -> LanguageModel:
    vocab = CharVocabulary.fit(TEXT)
    torch.manual_seed(0)
    model = cls(vocab_size=len(vocab), block_size=4, d_model=16, num_layers=2, num_heads=2)
    return LanguageModel(model.eval(), vocab)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore:To copy construct from a tensor")
def test_export_graphs_sequence_graph_traced_short_holds_past_block_size():
    # Traced on 3 tokens (the band cannot bind), run on up to 4 x block_size: the band is
    # built in the graph from the length, not the path of the traced example.
    model = _tiny_lm().model
    wrapper = LanguageModelSequence(model).eval()
    with torch.no_grad():
        traced = torch.jit.trace(wrapper, (torch.tensor([[1, 2, 3]]),), check_trace=False)
        gen = torch.Generator().manual_seed(0)
        for shape in ((2, 17), (1, 1), (3, 4)):
            ids = torch.randint(0, model.vocab_size, shape, generator=gen)
            want, _ = model(ids)
            torch.testing.assert_close(traced(ids), want, atol=1e-5, rtol=1e-5)


def test_export_graphs_transformer_lm_torchscript_and_its_predict_script(tmp_path):
    lm = _tiny_lm()
    folder = export(lm, tmp_path / "ts", "torchscript")
    assert sorted(p.name for p in folder.iterdir()) == [
        "model.pt",
        "predict.py",
        "preprocessing.json",
        "vocabulary.json",
    ]
    exported = runpy.run_path(str(folder / "predict.py"))["Exported"](folder)
    assert exported.settings["graph"] == "sequence"
    prompt = "the will to tr"  # 14 characters, block_size 4
    probs, carried = exported.next_token_probabilities(prompt)
    with torch.no_grad():
        logits, _ = lm.model(torch.from_numpy(lm.vocab.encode(prompt))[None])
    np.testing.assert_allclose(probs, torch.softmax(logits[0, -1], -1).numpy(), atol=1e-6)
    assert carried == lm.vocab.encode(prompt).tolist()
    assert exported.greedy(prompt, 20) == lm.generate(prompt, length=20, temperature=1e-7)


def test_export_graphs_growing_state_not_declared_is_refused(tmp_path):
    class Undeclared(TransformerLanguageModel):
        state_grows = False

    with pytest.raises(ValueError) as info:
        export(_tiny_lm(Undeclared), tmp_path / "out")
    message = str(info.value)
    assert message.startswith("the state of language model 'lm-transformer' grows with the text")
    assert message.endswith(
        "so it cannot be exported as one step of fixed-size tensors; a model whose state is a "
        "growing cache says state_grows = True, and then exports its whole-sequence graph"
    )
    assert "\n" not in message and not (tmp_path / "out").exists()


def test_export_graphs_learned_positions_classifier_reads_texts_cut_to_its_table(tmp_path):
    # max_length 8 rows of positions, texts cut to 8 tokens: the probes stay within the table
    options = {"positions": "learned", "max_length": 8, "num_heads": 2}
    run = sl.training.classify.train_classifier(
        toy_reviews(24), model="transformer", embedding_dim=8, truncate=8, epochs=1,
        model_options=options, progress=False, device="cpu",
    )  # fmt: skip
    assert max_width(run.model, run.vectorizer.maxlen) == 8
    folder = export(run, tmp_path / "learned")
    texts = ["superb", "the story " * 12 + "awful", "", "a great cast and a boring plot"]
    exported = runpy.run_path(str(folder / "predict.py"))["Exported"](folder)
    expected = run.predict_proba(texts)
    assert len(np.unique(expected[:, 1].round(6))) > 1
    np.testing.assert_allclose(exported.predict_proba(texts), expected, atol=1e-5, rtol=0)
