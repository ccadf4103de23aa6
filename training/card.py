"""Model card per version: Markdown (jinja2) and a self-contained HTML (markdown, images
embedded), built from the pipeline's report dict with training/model_card.md.j2."""

from __future__ import annotations

import base64
from importlib import resources
from pathlib import Path

CSS = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
       "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}"
       "img{max-width:100%}")


def _ci(value: float, interval: list[float]) -> str:
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def render_markdown(report: dict) -> str:
    import jinja2

    template = resources.files("training").joinpath("model_card.md.j2").read_text()
    # Markdown, not HTML: escaping happens when the Markdown is rendered to HTML.
    env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)  # noqa: S701  # nosec B701
    return env.from_string(template).render(r=report, ci=_ci)


def render_html(markdown_text: str, image_dir: Path) -> str:
    """HTML with the PNGs inlined, so the card is one file an auditor can open anywhere."""
    import markdown

    body = markdown.markdown(markdown_text, extensions=["tables"])
    for png in sorted(image_dir.glob("*.png")):
        data = base64.b64encode(png.read_bytes()).decode()
        body = body.replace(f'src="{png.name}"', f'src="data:image/png;base64,{data}"')
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Model card</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>")


def write(report: dict, out_dir: Path) -> tuple[Path, Path]:
    md = render_markdown(report)
    md_path, html_path = out_dir / "model_card.md", out_dir / "model_card.html"
    md_path.write_text(md)
    html_path.write_text(render_html(md, out_dir))
    return md_path, html_path
