"""lmutils: the small helper package of the course "From a neuron to a GPU language model".

Each notebook builds an idea from scratch; once taught, later notebooks import it from here.
Modules: device, data, models, train, generate, plot, widgets, checks, course.
"""

__version__ = "0.1.0"
