def model_fn(model_dir):
    return object()


def predict_fn(data, model):
    raise ValueError("feature 3 is out of range")
