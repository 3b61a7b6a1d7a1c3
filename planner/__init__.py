"""treeplanner: close-loop task planning with LLMs over action trees."""
