"""Try the active model on new photos: the predict page and `POST /api/predict`."""

from fastapi import APIRouter, Depends, File, Request, UploadFile

from app.auth import CurrentUser
from app.deps import SessionDep
from app.htmx import render
from app.models import EMOTIONS
from app.schemas import PredictionOut
from app.services import charts
from app.services.errors import BadInput
from app.services.predict import (
    UploadRejected,
    decode_upload,
    predict_array,
    predictor_for,
    preview_data_url,
    score,
)
from app.services.runs import active_run

router = APIRouter()
NAV = [("Predict", "/predict", "reviewer")]
MAX_FILES = 200


def _read_limited(upload: UploadFile, limit: int) -> bytes:
    """Read at most limit+1 bytes, so an oversized upload is refused without holding it."""
    return upload.file.read(limit + 1)


async def _upload_form(request: Request):
    return await request.form(max_files=MAX_FILES)


@router.get("/predict", include_in_schema=False)
def predict_page(request: Request, session: SessionDep, _user: CurrentUser):
    return render(request, "predict.html", {"run": active_run(session), "labels": EMOTIONS,
                                            "results": None, "scores": None})


# Plain functions: detection and the model run in the thread pool, never on the event loop.
@router.post("/predict", include_in_schema=False)
def predict_form(request: Request, session: SessionDep, _user: CurrentUser,
                 form=Depends(_upload_form)):
    settings = request.app.state.settings
    files = [f for f in form.getlist("files") if hasattr(f, "read")]
    labels = [str(v) for v in form.getlist("labels")]
    run = active_run(session)
    context = {"run": run, "labels": EMOTIONS, "results": [], "scores": None}
    predictor = predictor_for(run)
    if not files:
        raise BadInput("files", "choose or drop at least one photo")
    for index, upload in enumerate(files):
        name = upload.filename or f"photo {index + 1}"
        true_label = labels[index] if index < len(labels) and labels[index] in EMOTIONS else ""
        entry = {"name": name, "true_label": true_label, "faces": [], "error": None,
                 "preview": None}
        try:
            array = decode_upload(_read_limited(upload, settings.upload_max_bytes),
                                  name=name, settings=settings)
            entry["preview"] = preview_data_url(array)
            entry["faces"] = predict_array(predictor, array, with_crops=True)
            height, width = array.shape[:2]
            for face in entry["faces"]:
                face["bars"] = charts.probability_bars(face["probabilities"])
                face["share"] = face["probabilities"][face["label"]]
                x, y, w, h = face["box"]  # drawn over the preview, in % of the photo
                face["box_style"] = (f"left:{100 * x / width:.2f}%;top:{100 * y / height:.2f}%;"
                                     f"width:{100 * w / width:.2f}%;height:{100 * h / height:.2f}%")
        except UploadRejected as exc:  # one bad photo among many: say so in its row
            entry["error"] = exc.message
        context["results"].append(entry)
    scores = score(context["results"], predictor.labels)
    if scores:
        cm = scores["confusion_matrix"]
        scores["heatmap"] = charts.heatmap(cm["matrix"], cm["labels"])
    context["scores"] = scores
    return render(request, "predict.html", context, block="results")


@router.post("/api/predict", tags=["predict"], response_model=PredictionOut)
def predict_api(request: Request, session: SessionDep, _user: CurrentUser,
                file: UploadFile = File(...)) -> dict:
    """Faces in one photo with class probabilities from the active model:
    `{"faces": [{"box": [x, y, w, h], "confidence": c, "label": l, "probabilities": {...}}],
    "run": id}`. 413 for an oversized file, 422 for anything that is not a decodable image
    within the pixel limit, 409 when no model is active."""
    settings = request.app.state.settings
    run = active_run(session)
    array = decode_upload(_read_limited(file, settings.upload_max_bytes),
                          name=file.filename or "upload", settings=settings)
    predictor = predictor_for(run)  # 409 when no model is active
    return {"run": run.id, "faces": predict_array(predictor, array)}
