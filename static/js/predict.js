// Predict page: drag and drop photos (or a folder of per-label subfolders), pick true labels.
(function () {
  const form = document.getElementById("predict-form");
  const drop = document.getElementById("dropzone");
  const fileInput = document.getElementById("file-input");
  const folderInput = document.getElementById("folder-input");
  const picked = document.getElementById("picked");
  // A JSON data block, not an inline script: the Content-Security-Policy allows no inline JS.
  const labels = JSON.parse(document.getElementById("predict-labels").textContent);
  let files = [];  // [{file, label}]

  function labelFromPath(path) {
    // "happy/img1.jpg" or "photos/happy/img1.jpg": the folder right above the file.
    const parts = (path || "").split("/");
    const folder = parts.length > 1 ? parts[parts.length - 2] : "";
    return labels.includes(folder) ? folder : "";
  }

  function add(list) {
    for (const file of list) {
      if (!file.type.startsWith("image/") && !/\.(png|jpe?g|webp|bmp|gif|tiff?)$/i.test(file.name)) continue;
      files.push({file, label: labelFromPath(file.webkitRelativePath || file.relativePath || "")});
    }
    show();
  }

  function show() {
    picked.replaceChildren();
    files.forEach((entry, i) => {
      const row = document.createElement("div");
      row.className = "picked-row";
      const name = document.createElement("span");
      name.textContent = entry.file.webkitRelativePath || entry.file.name;
      const select = document.createElement("select");
      select.setAttribute("aria-label", "true label of " + entry.file.name);
      for (const value of ["", ...labels]) {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = value || "true label: unknown";
        option.selected = value === entry.label;
        select.append(option);
      }
      select.addEventListener("change", () => { files[i].label = select.value; });
      row.append(name, select);
      picked.append(row);
    });
  }

  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    add(e.dataTransfer.files);
  });
  fileInput.addEventListener("change", () => { add(fileInput.files); fileInput.value = ""; });
  folderInput.addEventListener("change", () => { add(folderInput.files); folderInput.value = ""; });
  document.getElementById("clear-picked").addEventListener("click", () => { files = []; show(); });

  // htmx builds the request from the form; put the picked files and labels into it.
  form.addEventListener("htmx:configRequest", (e) => {
    if (!files.length) return;
    const data = e.detail.formData;
    data.delete("files");
    data.delete("labels");
    for (const entry of files) {
      data.append("files", entry.file, entry.file.name);
      data.append("labels", entry.label);
    }
  });
})();
