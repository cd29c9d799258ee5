"""lmutils: the small helper package of the course "From a neuron to a GPU language model".

Each notebook builds an idea from scratch; once taught, later notebooks import it from here.
Modules, in the order the notebooks teach them: engine (a scalar autograd, 02), mlp (02), optim (02), data
(tokenisers and batches, 03), ngram (03), recurrent (RNN and LSTM from their equations, 04-05), attention
(06), models (the reference RNN, LSTM and GPT language models), generate (sampling), train (fit, the training
loop) and progress (what fit shows: printed lines, a progress bar), checkpoint (save, resume), speed (FLOPs,
tokens/s, MFU), distributed (torchrun, DDP), device, presets (plain data) and run (08: the training command,
python -m lmutils.run; bench and train's own __main__ are its aliases), finetune (09), bpe, hf and kvcache (10).
The course's machinery (checkers, slides, widgets, plots, sizes, recorded results, notebook authoring) is in
lmutils.course; no module here imports it.
"""

__version__ = "0.1.0"
