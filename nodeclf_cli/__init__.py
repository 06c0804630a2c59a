"""nodeclf: node classification by hand, exactly.

One fully connected layer turns node embeddings into class scores, softmax turns
scores into probabilities, cross-entropy measures the error, and its gradient
updates the weights. nodeclf computes every step, shows it the way a textbook
writes it, trains for many epochs and checks hand-worked answers.
"""

__version__ = "0.1.0"
