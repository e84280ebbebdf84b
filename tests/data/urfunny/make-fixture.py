#!/usr/bin/python3
"""Writes the UR-FUNNY fixture: the three pickles of the V2 release (same
structure, five made-up examples; intervals as numpy arrays as in the release).
Run from this folder: /usr/bin/python3 make-fixture.py"""
import pickle
import numpy as np

folds = {"train": [101, 102, 103], "dev": [201], "test": [301]}
lang = {
    101: {"punchline_sentence": "and that is why I never trust a pigeon",
          "context_sentences": ["so I was in the park", "a pigeon looked at me"],
          "punchline_intervals": np.array([[10.0, 10.4], [10.4, 12.0]])},
    102: {"punchline_sentence": "the data shows a clear trend",
          "context_sentences": ["we measured it twice"],
          "punchline_intervals": np.array([[3.0, 4.0]])},
    103: {"punchline_sentence": "my wife said I should stop counting sheep",
          "context_sentences": []},
    201: {"punchline_sentence": "thank you very much", "context_sentences": ["that was the talk"]},
    301: {"punchline_sentence": "the robot asked for a raise",
          "context_sentences": ["we built a robot", "it worked hard"],
          "punchline_intervals": np.array([[5.5, 6.5]])},
    999: {"punchline_sentence": "in no fold", "context_sentences": []},
}
labels = {101: 1, 102: 0, 103: 1, 201: 0, 301: 1, 999: 0}
for name, obj in (("data_folds.pkl", folds), ("language_sdk.pkl", lang), ("humor_label_sdk.pkl", labels)):
    with open(name, "wb") as f:
        pickle.dump(obj, f, protocol=2)
