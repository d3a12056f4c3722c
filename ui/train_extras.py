"""The Train page's data in and results out: your own images, a server folder, a bundle to continue, the
training timeline, and downloads. Imported by ui/train_page.py; NumPy and Pillow only (no TensorFlow).

Decisions, and why:
- Uploads are never parsed in the page process: gan_core.uploads converts them in a limited child process
  (gan_core/sandbox.py), once per upload, and this page keeps the uint8 result in session_state under the
  upload's file ids, sizes and the invert choice, so a rerun (every click, every redraw) costs a dictionary
  lookup. The sizes the browser declared are checked (count and total) before a byte is read. Only the newest
  upload is kept. The pixels go to the worker with the create request, named 'upload:<sha256 prefix>'.
- No typed paths, and no server path on the page. Folders on the server are offered only when the operator
  sets GAN_LAB_DATA_ROOT, as a list of its sub-folders that hold IDX files or images, each named
  'data:<folder name>'; the worker finds the folder from that name, so recipes, bundles and messages never
  carry the server's path.
- A bundle is checked in the same kind of child (gan_core.bundle.load_bundle_bytes); Start then builds the
  bundle's recipe in a worker, sets its weights and continues its step and curves, on the data chosen in the
  sidebar.
- Downloads are built only when the user presses "Prepare downloads", never on a live redraw; the bundle is
  built in the worker (it needs Keras). The GIF and the CSV come from what the page already holds.
- The timeline's frames are already in the page (gan_core.messages.RunView), so the slider is a pure redraw
  in a fragment of its own: moving it reruns nothing else.
- Names of uploaded files and bundle messages (which quote them) are shown with st.text: plain text, never
  Markdown or HTML.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from gan_core import checkpoints, data, uploads
from gan_core.bundle import BundleError, load_bundle_bytes
from gan_core.config import GANConfig
from gan_core.images import grid, grid_png, sample_columns, upscale
from ui import state

DATA_ROOT_ENV = data.DATA_ROOT_ENV
UPLOAD_CHOICE = "upload"
SERVER_CHOICE = "server-folder"
BUILT_IN = ("mnist-sample", "mnist", "fashion_mnist")
DATASET_LABELS = {"mnist-sample": "mnist-sample (5,000 digits, offline)", "mnist": "mnist (downloaded)",
                  "fashion_mnist": "fashion_mnist (downloaded)", UPLOAD_CHOICE: "Upload your own images",
                  SERVER_CHOICE: "A folder on this server"}
UPLOAD_KEY = "train_upload"  # {"key": content hash, "result": UploadResult, "names": [...]}
BUNDLE_KEY = "train_bundle"  # {"key", "name", "config", "weights", "state", "history"} or {"key", "name", "error"}
DOWNLOADS_KEY = "train_downloads"
INVERT_CHOICES = {"auto": None, "force invert": True, "never": False}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
MAX_SERVER_FOLDERS = 200
PREVIEW_COUNT = 64
MAX_NOTES_SHOWN = 50
GIF_MAX_FRAMES = 100
GIF_FRAME_MS = 120
TIMELINE_KEY = "train_timeline_step"
TIMELINE_FOLLOW_KEY = "_train_timeline_follow"
TIMELINE_PNG_KEY = "_train_timeline_png"
TIMELINE_PNG_CACHE = 64  # encoded grids kept per session (~65 KB each)
EXPLORE_PAGE = "ui/explore_page.py"
EXPLORE_SESSION_SOURCE = "This session's model"  # ui/explore_page.py SOURCES[1]
EXPLORE_SESSION_MODEL = "session"  # ui/catalog.py SESSION


# ---- which data (sidebar) ------------------------------------------------------------------------
def data_root() -> Path | None:
    return data.data_root()


@st.cache_data(ttl=60, show_spinner=False)
def server_folders(root: str) -> dict[str, str]:
    """Sub-folder name -> dataset name ('data:NAME') for the folders under `root` that hold data."""
    found: dict[str, str] = {}
    base = Path(root)
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        real = folder.resolve()
        if real.parent != base:  # a link that leads out of the data root
            continue
        if data.data_folder_kind(real) is not None:
            found[folder.name] = f"data:{folder.name}"
        if len(found) >= MAX_SERVER_FOLDERS:
            break
    return found


def dataset_ui(model: str) -> str:
    """The sidebar's data choice; returns the dataset name for the recipe, or "" (with the reason shown)."""
    root = data_root()
    choices = BUILT_IN + (UPLOAD_CHOICE,) + ((SERVER_CHOICE,) if root is not None else ())
    if st.session_state.get("train_dataset") not in choices:
        st.session_state["train_dataset"] = BUILT_IN[0]
    choice = st.selectbox(
        "Dataset", choices, key="train_dataset", format_func=lambda name: DATASET_LABELS[name],
        help="mnist-sample: 5,000 real MNIST digits, offline. mnist / fashion_mnist: the full sets, downloaded by "
             "Keras (falls back to mnist-sample when offline). Upload your own images: PNG, JPEG, BMP or GIF "
             "pictures, a .zip of them (folders named 0-9 label them), MNIST IDX files or .npy/.npz arrays.")
    if choice in BUILT_IN:
        return choice
    if choice == SERVER_CHOICE:
        return _server_folder_ui(root)
    return _upload_ui(model)


def _server_folder_ui(root: Path) -> str:
    folders = server_folders(str(root))
    if not folders:
        st.error("No folder on this server holds IDX files or images yet.")
        return ""
    if st.session_state.get("train_server_folder") not in folders:
        st.session_state["train_server_folder"] = next(iter(folders))
    name = st.selectbox("Folder", tuple(folders), key="train_server_folder",
                        help="The folders the server's operator offers (GAN_LAB_DATA_ROOT): MNIST IDX files, or "
                             "images (sub-folders named 0-9 label them).")
    return folders[name]


def _upload_ui(model: str) -> str:
    files = st.file_uploader("Your images", accept_multiple_files=True, key="train_upload_files",
                             help="PNG, JPEG, BMP or GIF pictures, a .zip of them (folders named 0-9 label the "
                                  "digits), MNIST IDX files (raw or .gz) or .npy / .npz arrays. Dark digits on a "
                                  "light background are inverted to MNIST's white on black.")
    st.radio("Invert the background", tuple(INVERT_CHOICES), key="train_upload_invert", horizontal=True,
             help="auto: pictures whose border is light are inverted; force invert: every picture; never: none.")
    result = converted_upload(files or [], INVERT_CHOICES[st.session_state.get("train_upload_invert", "auto")])
    if result is None:
        st.info("Upload your images above; a preview appears on the page.")
        return ""
    if not result.ok:
        st.error(f"Not enough images to train on: {result.summary}.")
        return ""
    if model == "cgan" and result.labels is None:
        st.error("The conditional GAN needs a label for every image, and this upload has none. Put the pictures in "
                 "folders named 0-9 inside a .zip, add a labels IDX file or a labels array, or choose another model.")
        return ""
    return upload_name(result)


def upload_name(result: uploads.UploadResult) -> str:
    return f"upload:{result.digest[:12]}"


def _upload_key(files, invert: bool | None) -> str:
    """The upload's identity without reading it: Streamlit's file ids (new for every upload), names and sizes."""
    digest = hashlib.sha256(repr(invert).encode())
    for file in files:
        digest.update(f"{file.file_id}\0{file.name}\0{file.size}\0".encode("utf-8", "replace"))
    return digest.hexdigest()


def converted_upload(files, invert: bool | None) -> uploads.UploadResult | None:
    """The conversion of `files` (once per upload and invert choice); with no files, the last upload if any.

    The count and total size are checked from the sizes Streamlit reports before any file is read; the files
    let in are converted in the parsing child.
    """
    cached = st.session_state.get(UPLOAD_KEY)
    if not files:
        return cached["result"] if cached is not None else None
    key = _upload_key(files, invert)
    if cached is None or cached["key"] != key:
        admitted, skipped = uploads.admit([(file.name, file.size) for file in files], uploads.UPLOAD_LIMITS)
        with st.spinner("Converting your images..."):
            result = uploads.convert_uploads([(files[i].name, files[i].getvalue()) for i in admitted],
                                             invert=invert, skipped=skipped)
        cached = {"key": key, "result": result, "names": [file.name for file in files]}
        st.session_state[UPLOAD_KEY] = cached  # only the newest upload is kept
    return cached["result"]


def upload_preview_ui(config: GANConfig | None) -> None:
    """Main area, before Start: the converted digits, the count and summary, and every refusal in plain text."""
    if st.session_state.get("train_dataset") != UPLOAD_CHOICE:
        return
    cached = st.session_state.get(UPLOAD_KEY)
    st.subheader("Your own images")
    if cached is None:
        st.info("Upload PNG, JPEG, BMP or GIF pictures, a .zip of them, IDX files or .npy/.npz arrays in the sidebar "
                "(under Dataset). They become 28x28 white-on-black digits, the way MNIST was made.")
        return
    result: uploads.UploadResult = cached["result"]
    picture, text = st.columns([3, 2])
    if result.count:
        preview = result.pixels[:PREVIEW_COUNT].astype(np.float32) / 255.0
        picture.image(grid_png(preview, columns=8, scale=2), output_format="PNG",
                      caption=f"The first {min(result.count, PREVIEW_COUNT)} of {result.count:,} digits, as training "
                              f"will see them")
    with text:
        show = st.success if result.ok else st.error
        show(f"**{result.count:,} images** ready to train on." if result.ok else "Not enough images to train on.")
        st.text(result.summary)
        st.caption("Labelled: every image has a digit label." if result.labels is not None else
                   "No labels: fine for every model except the conditional GAN.")
        if config is not None and config.dataset == upload_name(result):
            st.caption(f"The recipe calls this dataset `{config.dataset}`.")
    # Counted as the summary counts: "N files refused" heads a list of exactly N; other notes come apart.
    refused = [note for note in result.notes if note.refused]
    unused = [note for note in result.notes if not note.refused and not note.used]
    for title, notes in ((f"Refused ({len(refused):,})", refused), (f"Also not used ({len(unused):,})", unused)):
        if not notes:
            continue
        st.markdown(f"**{title}**: each file and why")
        for note in notes[:MAX_NOTES_SHOWN]:
            st.text(str(note))
        if len(notes) > MAX_NOTES_SHOWN:
            st.caption(f"... and {len(notes) - MAX_NOTES_SHOWN:,} more.")


# ---- a bundle to continue from ------------------------------------------------------------------
def _read_bundle(file) -> dict:
    data = file.getvalue()
    key = hashlib.sha256(data).hexdigest()
    cached = st.session_state.get(BUNDLE_KEY)
    if cached is not None and cached["key"] == key and cached["name"] == file.name:
        return cached
    try:
        config, weights, bundle_state, history = load_bundle_bytes(data, name=file.name)
        cached = {"key": key, "name": file.name, "config": config, "weights": weights, "state": bundle_state,
                  "history": history}
    except BundleError as exc:
        cached = {"key": key, "name": file.name, "error": str(exc)}
    st.session_state[BUNDLE_KEY] = cached
    return cached


def bundle_ui(config: GANConfig | None, run) -> GANConfig | None:
    """Before Start: "Continue training from a bundle". Returns the config Start uses (the bundle's recipe on the
    sidebar's data when a good bundle is loaded, else `config`)."""
    if run is not None:
        return config
    with st.expander("Continue training from a bundle", icon=":material/upload_file:"):
        file = st.file_uploader("Model bundle (.zip)", type=["zip"], key="train_bundle_file",
                                help="A bundle downloaded from this page (Downloads) or written by "
                                     "`python -m gan_core export`: Start continues its training, its step and curves.")
        if file is None:
            st.session_state.pop(BUNDLE_KEY, None)
            st.caption("Start then continues that model: its recipe, weights, step and curves, on the data chosen in "
                       "the sidebar.")
            return config
        bundle = _read_bundle(file)
        if "error" in bundle:
            st.error("This bundle cannot be used:")
            st.text(bundle["error"])
            return None
        recipe: GANConfig = bundle["config"]
        step = int(bundle["state"].get("step", 0))
        st.success(f"A {recipe.display_name} at step {step:,}: **Start** continues it.")
        st.text(f"File: {bundle['name']}; trained on: {data.display_name(recipe.dataset)}")
        if config is None:
            st.warning("Choose the data to continue on in the sidebar first.")
            return None
        dataset = config.dataset
        if recipe.model == "cgan" and dataset.startswith("upload:"):
            cached = st.session_state.get(UPLOAD_KEY)
            if cached is None or cached["result"].labels is None:
                st.error("This bundle is a conditional GAN, which needs labelled digits; the upload has no labels.")
                return None
        st.caption(f"It continues on `{data.display_name(dataset)}` (the sidebar's dataset); the sidebar's other settings are not used "
                   f"while a bundle is loaded. Remove the file to train from the sidebar's recipe.")
        return recipe.replace(dataset=dataset)


def bundle_active() -> dict | None:
    bundle = st.session_state.get(BUNDLE_KEY)
    return bundle if bundle is not None and "error" not in bundle else None


def run_inputs(config: GANConfig) -> dict:
    """The arrays a new run needs beside its config: the upload's images, a bundle's weights."""
    inputs: dict = {}
    if config.dataset.startswith("upload:"):
        cached = st.session_state.get(UPLOAD_KEY)
        if cached is None or upload_name(cached["result"]) != config.dataset:
            raise ValueError(f"the uploaded images of {config.dataset} are no longer here; upload them again")
        result = cached["result"]
        inputs["dataset"] = (result.pixels, result.labels)  # uint8: the engine keeps them so
    bundle = bundle_active()
    if bundle is not None and bundle["config"].replace(dataset=config.dataset) == config:
        inputs["initial"] = {"weights": bundle["weights"], "step": int(bundle["state"].get("step", 0)),
                             "history": bundle["history"]}
    return inputs


# ---- the timeline ---------------------------------------------------------------------------------
def timeline_ui(run, refresh_s: float | None, explorable: bool = True) -> None:
    """The fixed-noise grid through training, scrubbed with a slider; its own fragment.

    `explorable`: offer "Explore step N" (the run's owner). A viewer of a shared run cannot fetch past weights
    (nor Resume anything), so the viewer's timeline points to Explore's copy of the latest generator instead.
    """

    @st.fragment(run_every=refresh_s)
    def timeline() -> None:
        view = run.view  # the live fragment polls; this one only draws what the page holds
        steps = list(view.timeline_steps)
        if not steps:  # nothing to scrub before the first chunk's end
            return
        st.subheader("Training timeline")
        _keep_timeline_value(steps)
        if len(steps) == 1:
            chosen = steps[0]
            st.caption(f"One moment so far: step {chosen:,}.")
        else:
            chosen = st.select_slider("Step", options=steps, key=TIMELINE_KEY, format_func=lambda s: f"{s:,}",
                                      help="Drag back through training: the same 64 noise vectors at each kept step.")
        newest = chosen == steps[-1]
        st.session_state[TIMELINE_FOLLOW_KEY] = chosen if newest else None
        picture, text = st.columns([3, 2])
        with picture.container(key="train_timeline_picture"):
            if newest:  # the live grid above already shows it: the page draws each grid once
                st.caption("The newest moment is the live sample grid above. Drag the slider back to see an earlier "
                           "one here.")
            else:
                st.image(_timeline_png(run.run_id, view, chosen, sample_columns(run.config)), output_format="PNG",
                         caption=f"Timeline at step {chosen:,}: the same 64 noise vectors")
        text.markdown(f"{len(steps):,} moments kept, from step {steps[0]:,} to {steps[-1]:,} (evenly thinned to at most "
                      f"{view.max_frames}). Pick one to see what G drew then.")
        if explorable:
            _explore_moment_ui(text, run, view, chosen)
        else:
            text.caption("Open **Explore** (left) to play with the presenter's latest generator.")

    timeline()


def _timeline_png(run_id: str, view, step: int, columns: int = 8) -> bytes:
    """The grid at `step` as PNG, kept for the last TIMELINE_PNG_CACHE steps shown: scrubbing back and forth
    over the same moments encodes each once (and the browser reuses its decoded picture: same bytes, same URL)."""
    cache = st.session_state.get(TIMELINE_PNG_KEY)
    if cache is None or cache["run_id"] != run_id:
        cache = {"run_id": run_id, "pngs": {}}
        st.session_state[TIMELINE_PNG_KEY] = cache
    pngs: dict[int, bytes] = cache["pngs"]
    if step not in pngs:
        frame = view.timeline_frame(step)
        pngs[step] = grid_png(frame.astype(np.float32) / 255.0, columns=columns, scale=2)
        while len(pngs) > TIMELINE_PNG_CACHE:
            pngs.pop(next(iter(pngs)))
    return pngs[step]


def _keep_timeline_value(steps: list[int]) -> None:
    """Before the slider draws: follow the newest step when the user was there, else snap to a kept one."""
    value = st.session_state.get(TIMELINE_KEY)
    if value is None or value == st.session_state.get(TIMELINE_FOLLOW_KEY):  # it was at the newest, untouched
        st.session_state[TIMELINE_KEY] = steps[-1]
    elif value not in steps:
        st.session_state[TIMELINE_KEY] = min(steps, key=lambda s: abs(s - value))


def _nearest(values, step: int) -> int | None:
    return min(values, key=lambda s: (abs(s - step), s)) if values else None


def _explore_moment_ui(container, run, view, chosen: int) -> None:
    kept = _nearest(view.timeline_weight_steps, chosen)
    if kept is None:
        container.caption("Weights are kept at coarser moments; the first comes with the first chunk.")
        return
    # Weights are kept at fewer moments than pictures: the button names the step whose weights it opens.
    pressed = container.button(f"Explore step {kept:,}", key="train_timeline_explore", icon=":material/explore:",
                               help=f"Opens the Explore page with the model as it was at step {kept:,}.")
    if kept != chosen:
        container.caption(f"Weights are kept at fewer moments than pictures: step {kept:,} is the nearest to "
                          f"{chosen:,}.")
    if not pressed:
        return
    try:
        handle = run.timeline_model(chosen)
    except (state.EngineError, ValueError) as exc:
        container.error(f"Could not fetch the weights of that moment: {exc}. Press Resume if training has stopped.")
        return
    st.session_state[state.SESSION_COPY_KEY] = state.LoadedModel(handle)
    for key, value in (("explore_source", EXPLORE_SESSION_SOURCE), ("explore_model", EXPLORE_SESSION_MODEL)):
        st.session_state[key] = value
        st.session_state[f"_kept_{key}"] = value
    st.switch_page(EXPLORE_PAGE)


# ---- results out ----------------------------------------------------------------------------------
def history_csv(history: dict[str, np.ndarray]) -> bytes:
    """The run's curves as the download's CSV: the step column first, in checkpoints' one format."""
    ordered = {"step": history["step"], **{name: series for name, series in history.items() if name != "step"}}
    return checkpoints.history_csv_text(ordered).encode()


def timeline_gif(steps: list[int], frames: list[np.ndarray], max_frames: int = GIF_MAX_FRAMES,
                 scale: int = 2, columns: int = 8) -> bytes:
    """The fixed-noise grid over time as a looping GIF (at most `max_frames`, evenly chosen, the last included)."""
    index = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), max_frames)).round().astype(int))
    pictures = []
    for i in index:
        tiled = grid(frames[i].astype(np.float32) / 255.0, columns=columns, background=0.25)
        pictures.append(Image.fromarray(upscale(np.round(tiled * 255).astype(np.uint8), scale), mode="L"))
    buffer = io.BytesIO()
    durations = [GIF_FRAME_MS] * (len(pictures) - 1) + [GIF_FRAME_MS * 10]  # linger on the last moment
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0)
    return buffer.getvalue()


def prepare_downloads(run) -> None:
    """Build every download now (a button's callback): the grid, the GIF, the CSV and, in the worker, the bundle."""
    view = run.view
    files: dict[str, bytes] = {}
    errors: list[str] = []
    if view.samples is not None:
        files["png"] = grid_png(view.samples, columns=sample_columns(run.config), scale=2)
    if view.timeline_frames:
        files["gif"] = timeline_gif(view.timeline_steps, view.timeline_frames, columns=sample_columns(run.config))
    if len(view.history.get("step", ())):
        files["csv"] = history_csv(view.history)
    steps = dict.fromkeys(files, view.step)
    try:
        # The worker's weights may be ahead of the page's view: name the bundle by the step it records.
        files["zip"], steps["zip"] = run.bundle_with_step()
    except state.EngineError as exc:
        errors.append(f"The model bundle needs the training process: {exc} Press Resume, then prepare again.")
    st.session_state[DOWNLOADS_KEY] = {"run_id": run.run_id, "step": view.step, "steps": steps, "files": files,
                                       "errors": errors}


DOWNLOADS = (("png", "Sample grid (.png)", "samples", "image/png", ":material/image:"),
             ("gif", "Training progress (.gif)", "progress", "image/gif", ":material/movie:"),
             ("csv", "History (.csv)", "history", "text/csv", ":material/table:"),
             ("zip", "Download this model (bundle .zip)", "model", "application/zip", ":material/deployed_code:"))


def downloads_ui(run) -> None:
    """Results out: built on request only, then offered as download buttons."""
    if not len(run.view.history.get("step", ())):
        return
    with st.expander("Downloads: samples, progress GIF, history, this model", icon=":material/download:"):
        prepared = st.session_state.get(DOWNLOADS_KEY)
        if prepared is not None and prepared["run_id"] != run.run_id:
            prepared = None
        st.button("Prepare downloads" if prepared is None else "Prepare again (newest weights)",
                  key="train_prepare_downloads", icon=":material/build:", on_click=prepare_downloads, args=(run,),
                  help="Builds the files now from the current step; training keeps going.")
        if prepared is None:
            st.caption("The files are built when you ask, so the live views never wait for them.")
            return
        bundle_step = prepared["steps"].get("zip", prepared["step"])
        st.caption(f"Prepared at step {prepared['step']:,}." if bundle_step == prepared["step"] else
                   f"Pictures and history prepared at step {prepared['step']:,}; the model bundle holds the weights "
                   f"of step {bundle_step:,} (training went on while it was written).")
        for error in prepared["errors"]:
            st.warning(error)
        columns = st.columns(len(DOWNLOADS))
        for column, (kind, label, stem, mime, icon) in zip(columns, DOWNLOADS):
            data = prepared["files"].get(kind)
            if data is None:
                continue
            column.download_button(label, data, file_name=f"gan-lab-{stem}-step{prepared['steps'].get(kind, prepared['step'])}.{kind}", mime=mime,
                                   key=f"train_download_{kind}", icon=icon, on_click="ignore")
