// The console's behaviour beyond htmx: repeatable form rows, the upload with progress,
// the live log and the metrics charts. Everything shown from the server is set as text, never as HTML.
"use strict";

(function () {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  // ---- forms ---------------------------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    const pairButton = event.target.closest("[data-add-pair]");
    if (pairButton) {
      const rows = pairButton.parentElement.querySelectorAll(".pair");
      const copy = rows[rows.length - 1].cloneNode(true);
      copy.querySelectorAll("input").forEach((input) => { input.value = ""; });
      pairButton.before(copy);
      return;
    }
    const rowButton = event.target.closest("[data-add-row]");
    if (rowButton) {
      const body = document.querySelector(`[data-rows="${rowButton.dataset.addRow}"] tbody`);
      const rows = body.querySelectorAll("tr");
      const copy = rows[rows.length - 1].cloneNode(true);
      copy.querySelector('input[name="variant_name"]').value = `Variant${rows.length + 1}`;
      body.append(copy);
    }
  });

  // Switching the content type swaps the sample body, unless the user wrote their own. On "input", not
  // "change": a change fires when the field loses focus, which is when the user starts on the body.
  document.addEventListener("input", (event) => {
    const input = event.target.closest("input[data-samples]");
    if (!input) return;
    const body = document.getElementById("invoke-body");
    const options = Array.from(document.querySelectorAll("#content-types option"));
    const chosen = options.find((option) => option.value === input.value);
    const samples = options.map((option) => option.dataset.sample);
    if (chosen && (body.value === "" || samples.includes(body.value))) body.value = chosen.dataset.sample;
  });

  // ---- upload --------------------------------------------------------------------------------------
  function setupUpload(zone) {
    const input = document.getElementById("artifact-file");
    const progress = document.getElementById("upload-progress");
    const status = document.getElementById("upload-status");
    const send = (file) => {
      const request = new XMLHttpRequest();
      request.open("PUT", zone.dataset.upload + encodeURIComponent(file.name));
      request.setRequestHeader("X-Dockyard-CSRF", csrf());
      request.setRequestHeader("Content-Type", "application/gzip");
      progress.hidden = false;
      progress.value = 0;
      status.textContent = `Uploading ${file.name}…`;
      request.upload.onprogress = (e) => {
        if (e.lengthComputable) progress.value = (100 * e.loaded) / e.total;
      };
      request.onload = () => {
        if (request.status === 201) {
          const answer = JSON.parse(request.responseText);
          progress.value = 100;
          status.textContent = "";
          const done = document.createElement("span");
          done.textContent = `Uploaded ${answer.name} (${answer.size} bytes): `;
          const link = document.createElement("a");
          link.href = "/console/models/new?model_data=" + encodeURIComponent(answer.url);
          link.textContent = "Create a model with it";
          link.id = "create-from-upload";
          status.append(done, link);
          status.dataset.url = answer.url;
        } else {
          status.textContent = `Upload failed (${request.status}): ${request.responseText}`;
        }
      };
      request.onerror = () => { status.textContent = "Upload failed: the emulator did not answer."; };
      request.send(file);
    };
    input.addEventListener("change", () => { if (input.files.length) send(input.files[0]); });
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer.files.length) send(e.dataTransfer.files[0]);
    });
  }

  // ---- logs ----------------------------------------------------------------------------------------
  const MAX_LOG_LINES = 2000;
  function setupLogs(box) {
    let cursor = "";
    let busy = false;
    const follow = document.getElementById("logs-follow");
    const poll = async () => {
      if (busy) return;
      busy = true;
      try {
        const answer = await fetch(`${box.dataset.logs}?cursor=${encodeURIComponent(cursor)}`, { credentials: "same-origin" });
        if (answer.ok) {
          const data = await answer.json();
          cursor = data.cursor;
          for (const item of data.lines) {
            const line = document.createElement("div");
            line.className = "log-line";
            const source = document.createElement("span");
            source.className = "log-source";
            source.textContent = item.label;
            source.title = item.source;
            const text = document.createElement("span");
            text.textContent = item.line;
            line.append(source, text);
            box.append(line);
          }
          while (box.childElementCount > MAX_LOG_LINES) box.firstElementChild.remove();
          if (data.lines.length && (!follow || follow.checked)) box.scrollTop = box.scrollHeight;
        }
      } catch (error) {
        // The emulator is restarting: the next poll resumes from the same cursor.
      } finally {
        busy = false;
      }
    };
    poll();
    setInterval(poll, 1000);
  }

  // ---- metrics -------------------------------------------------------------------------------------
  const CHARTS = {
    invocations: { title: "Invocations per minute", series: [["Invocations", "invocations", "#2563eb"]] },
    latency: {
      title: "Model latency (ms)",
      series: [["p50", "latency_p50_ms", "#059669"], ["p99", "latency_p99_ms", "#d97706"]],
    },
    errors: {
      title: "Errors per minute",
      series: [["4xx", "errors_4xx", "#9333ea"], ["5xx", "errors_5xx", "#dc2626"]],
    },
  };

  function setupMetrics(card) {
    const charts = {};
    const draw = (data) => {
      for (const holder of card.querySelectorAll("[data-chart]")) {
        const spec = CHARTS[holder.dataset.chart];
        const columns = [data.minutes, ...spec.series.map((s) => data[s[1]])];
        if (charts[holder.dataset.chart]) {
          charts[holder.dataset.chart].setData(columns);
          continue;
        }
        const width = Math.max(280, holder.clientWidth || 420);
        charts[holder.dataset.chart] = new uPlot(
          {
            title: spec.title,
            width,
            height: 160,
            scales: { y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
            series: [{}, ...spec.series.map((s) => ({ label: s[0], stroke: s[2], width: 2, spanGaps: false }))],
            axes: [{}, { size: 50 }],
          },
          columns,
          holder,
        );
      }
      card.dataset.loaded = String(data.invocations.reduce((a, b) => a + b, 0));
    };
    const poll = async () => {
      try {
        const answer = await fetch(card.dataset.metrics, { credentials: "same-origin" });
        if (answer.ok) draw(await answer.json());
      } catch (error) {
        // next poll
      }
    };
    poll();
    setInterval(poll, 5000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const zone = document.getElementById("dropzone");
    if (zone) setupUpload(zone);
    const logs = document.querySelector("[data-logs]");
    if (logs) setupLogs(logs);
    const metrics = document.querySelector("[data-metrics]");
    if (metrics && window.uPlot) setupMetrics(metrics);
  });
})();
