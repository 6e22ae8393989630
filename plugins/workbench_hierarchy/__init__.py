"""Label-hierarchy curricula (thesis ch. 3): the curriculum, label constructors, SuperCon."""
