"""auxrun: auxiliary-task selection and multi-task training, from one Hydra entry point."""

__version__ = "0.1.0"
