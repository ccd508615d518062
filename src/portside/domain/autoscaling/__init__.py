"""EC2 Auto Scaling groups and EC2 launch templates: the instance groups behind capacity providers."""
