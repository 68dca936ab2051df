// The one stylesheet the pages load, served from /static/ so that the
// Content Security Policy `default-src 'self'` allows it. No font, script
// or image comes from anywhere else.

enum StaticAssets {
    static let stylesheetPath = "/static/dashboard.css"
    static let stylesheetContentType = "text/css; charset=utf-8"
    /// Browsers may keep the stylesheet for a day; it changes only with the binary.
    static let cacheControl = "public, max-age=86400"

    static let stylesheet = """
    :root {
      --bg: #f6f7f9; --fg: #1d2330; --muted: #5b6475; --card: #ffffff; --line: #d9dde5;
      --accent: #2364d2; --bad: #b3261e;
      font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 15px;
    }
    * { box-sizing: border-box; }
    body { margin: 0; background: var(--bg); color: var(--fg); }
    header { display: flex; align-items: center; justify-content: space-between;
      padding: 0.75rem 1.5rem; background: var(--fg); color: #fff; }
    header h1 { margin: 0; font-size: 1.25rem; letter-spacing: 0.04em; }
    main { max-width: 1200px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
    section { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
      padding: 0.75rem 1rem 1rem; margin: 1rem 0; overflow-x: auto; }
    h2 { font-size: 1rem; margin: 0.25rem 0 0.75rem; color: var(--muted); text-transform: uppercase;
      letter-spacing: 0.06em; }
    table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
    th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid var(--line);
      white-space: nowrap; }
    th { font-weight: 600; color: var(--muted); font-size: 0.85rem; }
    td.empty { color: var(--muted); font-style: italic; }
    tbody tr:hover { background: #f0f3f8; }
    dl.service { display: flex; flex-wrap: wrap; gap: 0.5rem 2rem; margin: 0.5rem 0; }
    dl.service div { min-width: 10rem; }
    dt { color: var(--muted); font-size: 0.8rem; text-transform: uppercase; }
    dd { margin: 0.1rem 0 0; font-weight: 600; overflow-wrap: anywhere; }
    .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1rem; }
    .charts h2 { grid-column: 1 / -1; }
    figure { margin: 0; }
    figcaption { font-weight: 600; margin-bottom: 0.25rem; }
    svg.chart { width: 100%; height: auto; background: #fbfcfd; border: 1px solid var(--line);
      border-radius: 6px; }
    svg.chart .axis { stroke: var(--muted); stroke-width: 1; }
    svg.chart .grid { stroke: var(--line); stroke-width: 1; stroke-dasharray: 4 4; }
    svg.chart .label, svg.chart .unit { fill: var(--muted); font-size: 13px; }
    svg.chart .series { stroke: var(--accent); stroke-width: 2; fill: none; }
    button { font: inherit; padding: 0.3rem 0.9rem; border-radius: 6px; border: 1px solid var(--line);
      background: #fff; color: var(--fg); cursor: pointer; }
    button:hover { border-color: var(--accent); }
    header button { background: transparent; color: #fff; border-color: #fff6; }
    form { display: inline; }
    form.start-capture { display: flex; gap: 0.5rem; align-items: center; margin-top: 0.75rem; }
    input { font: inherit; padding: 0.3rem 0.5rem; border: 1px solid var(--line); border-radius: 6px; }
    a { color: var(--accent); }
    main.login { max-width: 24rem; margin: 10vh auto; background: var(--card); border: 1px solid var(--line);
      border-radius: 8px; padding: 1.5rem; }
    main.login form { display: flex; flex-direction: column; gap: 0.5rem; }
    .error { color: var(--bad); font-weight: 600; }
    .hint { color: var(--muted); font-size: 0.85rem; }

    """
}
