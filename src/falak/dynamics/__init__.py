"""Flight dynamics: ground stations and passes, Moon frames and sky, lunar orbits."""
