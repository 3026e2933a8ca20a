"""The naive baseline for the serving benchmark: Flask calling `model.predict()` per
request, as hand-rolled serving scripts do. MODEL_PATH names the .keras file."""

import os

import keras
import numpy as np
from flask import Flask, request

model = keras.saving.load_model(os.environ["MODEL_PATH"], compile=False)
app = Flask(__name__)


@app.post("/predict")
def predict() -> dict[str, object]:
    batch = np.asarray(request.get_json()["instances"], dtype=np.float32)
    return {"predictions": model.predict(batch, verbose=0).tolist()}
