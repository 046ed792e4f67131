"""Neural networks (LSTM, GRU, TDNN, CNN) on numeric series, behind the series protocols.

* :class:`NeuralForecaster` follows the forecaster protocol of :mod:`seqlab.series.forecast`
  (``fit(inputs, targets)``, causal ``predict(inputs)``) and regresses the next value from a
  window of the last ``lags`` inputs::

      inputs u (T, D) --window--> (N, lags, D), oldest step first --network--> (N, D_out)
      window t = u[t - lags + 1 .. t]; before t = lags - 1 it is padded with u[0]

* :class:`NeuralSequenceClassifier` follows the sequence-classifier protocol of
  :mod:`seqlab.series.experiments` (``fit(sequences, labels)``, ``predict(sequences)``) for
  variable-length multivariate sequences such as Japanese Vowels.

Both train with Adam (mini-batches shuffled by a generator seeded with ``seed``, gradient
norm clipped at ``clip_grad_norm``) and stop early on a validation part carved out of the data
given to ``fit`` — for forecasting the *last* ``val_split`` of the windows in time order,
for classification a stratified ``val_split`` of the sequences — keeping the weights of
the best validation epoch (epoch 0 = untrained). After every ``max(1, patience // 4)``
epochs without progress, training returns to the best weights and multiplies the learning
rate by ``lr_decay``; after ``patience`` such epochs it stops. Under :func:`~seqlab.series.forecast.evaluate_forecast` the data given
to ``fit`` is the train part (for validation scores) or train + validation (for test scores,
``refit=True``), so the test steps are never seen by training or by early stopping.

The networks are the text classifiers of :mod:`seqlab.models` built with ``input_size=F``
(numeric input, no embedding) and ``num_classes`` = number of outputs. Same ``seed``, same
weights, same batch order, same predictions (on one device).

Both save a run folder (:mod:`seqlab.series._neural_io`) with ``save(path)``, or train into
one with ``fit(..., out=path)`` (checkpoints after every epoch, ``resume=True`` continues
exactly); ``seqlab.load(path)`` gives the fitted model back with the same predictions.
"""

from seqlab.series.forecast import NEURAL_MODELS
from seqlab.series.neural_classify import NeuralSequenceClassifier
from seqlab.series.neural_forecast import NeuralForecaster

__all__ = ["NEURAL_MODELS", "NeuralForecaster", "NeuralSequenceClassifier"]
