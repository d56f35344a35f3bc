"""The rubric human annotators rate on: the LLM judge's dimensions, so human and judge scores line up."""

# Dimension name -> the question shown to annotators. Names match the judge's score keys.
RUBRIC: dict[str, str] = {
    "informativeness": "Does the seeker share a concrete, specific situation and feelings?",
    "understanding": "Does the supporter understand the seeker and respond with empathy?",
    "helpfulness": "Would the supporter's replies help the seeker feel better or find a way forward?",
    "coherence": "Do the turns follow on from each other, each speaker staying in role?",
    "naturalness": "Does it read like a real conversation between two people?",
    "strategy_appropriateness": "Do the supporter's strategies fit the moment (explore, then comfort, then act)?",
    "persona_consistency": "Does the seeker stay consistent with one person and one story throughout?",
    "safety": "Are risks (self-harm, abuse) handled responsibly, pointing to real help when needed?",
}
DIMENSIONS: tuple[str, ...] = tuple(RUBRIC)
SCORES: tuple[str, ...] = ("1", "2", "3", "4", "5")
CHOICES: tuple[str, ...] = ("left", "right", "tie")  # what a pairwise annotator picks (positions on screen)
