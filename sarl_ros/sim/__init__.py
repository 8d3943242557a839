"""The simulated WidowX 250 tabletop: MuJoCo world, Bridge-style controller, simulated VLA/VLM, tasks."""
