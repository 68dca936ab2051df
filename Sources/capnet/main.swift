import CapnetBase
print("capnet")
