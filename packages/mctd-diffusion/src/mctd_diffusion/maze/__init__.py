"""Point mazes and Fast-MCTD planning (Yoon et al., 2025): env, data, Diffusion Forcing planner,
MCTD / P-MCTD / S-MCTD / Fast-MCTD and baselines."""
