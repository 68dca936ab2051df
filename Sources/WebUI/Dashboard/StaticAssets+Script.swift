// The dashboard script, served as /static/dashboard.js: every few seconds
// it fetches /api/status and redraws the tables, the service fields and
// the chart polylines. It writes only textContent and attributes, never
// markup, so text from the snapshot cannot become HTML. The capture table
// keeps its server-rendered forms and changes on the next page load.

extension StaticAssets {
    static let scriptPath = "/static/dashboard.js"
    static let scriptContentType = "text/javascript; charset=utf-8"

    static let script = """
    "use strict";
    (function () {
      const root = document.getElementById("dashboard");
      if (!root) { return; }
      const intervalMs = 1000 * Number(root.dataset.updateSeconds || "5");

      function duration(seconds) {
        const t = Math.max(0, Math.round(seconds));
        const d = Math.floor(t / 86400), h = Math.floor(t / 3600) % 24, m = Math.floor(t / 60) % 60, s = t % 60;
        if (d > 0) { return d + "d " + h + "h " + m + "m"; }
        if (h > 0) { return h + "h " + m + "m " + s + "s"; }
        if (m > 0) { return m + "m " + s + "s"; }
        return s + "s";
      }
      function acme(a) {
        if (!a) { return "not managed"; }
        if (a.state === "valid") { return a.validUntil ? "valid until " + a.validUntil : "valid"; }
        return a.state;
      }
      function format(v) {
        const r = Math.round(v * 10) / 10;
        return String(r);
      }
      function formatValue(v) {
        if (v >= 1e6) { return format(v / 1e6) + "M"; }
        if (v >= 1e3) { return format(v / 1e3) + "k"; }
        return format(v);
      }
      function niceMaximum(v) {
        if (!isFinite(v) || v <= 1) { return 1; }
        let magnitude = 1;
        while (magnitude * 10 <= v) { magnitude *= 10; }
        for (const f of [1, 2, 5, 10]) { if (f * magnitude >= v) { return f * magnitude; } }
        return 10 * magnitude;
      }

      const tables = {
        "interfaces": s => s.interfaces.map(i => [i.name, i.network, i.hardwareAddress || "", i.mtu,
          i.receivedFrames, i.sentFrames, i.receivedBytes, i.sentBytes, i.drops.reduce((n, d) => n + d.count, 0)]),
        "drops": s => s.interfaces.flatMap(i => i.drops.filter(d => d.count > 0).map(d => [i.name, d.reason, d.count])),
        "resources": s => s.interfaces.flatMap(i => i.gauges.map(g => [i.name, g.help, g.value,
          g.limit === undefined || g.limit === null ? "unbounded" : g.limit])),
        "neighbors": s => s.neighbors.map(n => [n.interface, n.address, n.hardwareAddress || "",
          n.state === "resolved" ? "resolved" : "incomplete (" + n.requestsSent + " requests)",
          duration(n.expiresInSeconds), n.pendingFrames]),
        "connections": s => s.connections.map(c => [c.local, c.remote, c.state,
          c.smoothedRTTMilliseconds === undefined ? "" : format(c.smoothedRTTMilliseconds) + " ms",
          c.congestionWindowBytes, c.bytesReceived, c.bytesSent]),
        "tls-sessions": s => s.tlsSessions.map(t => [t.remote, t.version, t.cipherSuite, t.group,
          t.serverName || "", t.alpn || "", t.resumed ? "yes" : "no"]),
        "certificates": s => s.certificates.map(c => [c.subject, c.issuer, c.serialNumber || "",
          c.subjectAlternativeNames.join(", "),
          c.notAfter, c.source, acme(c.acme), (c.acme && c.acme.nextRenewal) || "", (c.acme && c.acme.lastError) || ""]),
      };

      function fillTable(id, rows) {
        const table = document.getElementById(id);
        if (!table) { return; }
        const columns = table.tHead.rows[0].cells.length;
        const body = document.createElement("tbody");
        if (rows.length === 0) {
          const cell = body.insertRow().insertCell();
          cell.className = "empty";
          cell.colSpan = columns;
          cell.textContent = table.dataset.empty || "";
        }
        for (const row of rows) {
          const tr = body.insertRow();
          for (const value of row) { tr.insertCell().textContent = String(value); }
        }
        table.replaceChild(body, table.tBodies[0]);
      }

      function drawChart(svg, points) {
        const [x0, y0, width, height] = svg.dataset.plot.split(" ").map(Number);
        const span = Number(svg.dataset.span);
        const values = points.map(p => Number(p[svg.dataset.series]));
        const max = niceMaximum(Math.max(0, ...values));
        const clamp = v => Math.min(Math.max(v, 0), 1);
        const coordinates = points.map((p, i) => {
          const x = x0 + width * (1 - clamp(p.ageSeconds / span));
          const y = y0 - height * clamp(values[i] / max);
          return format(x) + "," + format(y);
        });
        svg.querySelector("polyline.series").setAttribute("points", coordinates.join(" "));
        for (const label of svg.querySelectorAll("text.y-label")) {
          label.textContent = formatValue(max * Number(label.dataset.fraction));
        }
      }

      function update(report) {
        const s = report.snapshot;
        for (const id in tables) { fillTable(id, tables[id](s)); }
        const fields = { "service-uptime": duration(s.service.uptimeSeconds), "service-snapshot": s.generatedAt };
        for (const id in fields) {
          const element = document.getElementById(id);
          if (element) { element.textContent = fields[id]; }
        }
        for (const svg of document.querySelectorAll("svg.chart")) { drawChart(svg, report.history.points); }
        root.dataset.updated = s.generatedAt;
      }

      async function refresh() {
        try {
          const response = await fetch("/api/status", { credentials: "same-origin", headers: { "Accept": "application/json" } });
          if (response.status === 401) { window.location.assign("/login"); return; }
          if (response.ok) { update(await response.json()); }
        } catch (error) {
          // A failed fetch leaves the page as it is until the next attempt.
        }
      }

      refresh();
      window.setInterval(refresh, intervalMs);
    })();

    """
}
