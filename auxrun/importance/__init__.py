"""Head importance (Michel et al., 2019) for GradTS and later gradient-based methods."""
