"""Review assistance: the model and the reviewers' own answers point at what needs a look.

- `suspects`: sequences whose label a run's out-of-fold predictions confidently doubt
  (confident learning, via cleanlab);
- `onsets`: an expression-intensity curve per sequence and a suggested onset frame;
- `agreement`: how much reviewers agree (Cohen, Fleiss, Krippendorff);
- `adjudication`: the queue of disagreements an admin settles.
"""


class AssistError(ValueError):
    """Something the user must fix first (a run without predictions, no data); the message
    names it."""
