"""Cases: citizens' requests and the results of each step run on them."""
