"""A bot that turns prompts into images: it runs a template for each prompt and downloads the
outputs.

    COMFYCONTROL_API_TOKEN=cfc_... python examples/template_bot.py "a red fox" "a lighthouse" \
        --template TEMPLATE_ID --out ./images

Without --template it uploads examples/txt2img_template.json first. Prompts run concurrently
(the client paces every request under the API's rate limit); each one waits for its workflow,
then streams the outputs to disk without ever sending the API token to the storage host.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from comfycontrol_async import ComfyControl, Template

HERE = Path(__file__).parent


async def template_for(cc: ComfyControl, template_id: str | None) -> Template:
    if template_id:
        return await cc.templates.get(template_id)
    return await cc.templates.create(
        name="txt2img (example bot)",
        description="A prompt, a negative prompt and a sampler",
        body=HERE / "txt2img_template.json",
    )


async def run_one(
    cc: ComfyControl, template: Template, prompt: str, out: Path, tags: list[str]
) -> list[Path]:
    created = await cc.workflows.create(
        name=f"bot: {prompt[:40]}",
        workflow=template.body,
        params={"prompt": prompt},
        tags=tags,
    )
    done = await cc.workflows.wait(created.id, deadline=600)
    if done.status != "completed":
        reason = done.exception_message or done.status
        raise RuntimeError(f"workflow {done.id} for {prompt!r} ended {done.status}: {reason}")
    return await cc.workflows.download_outputs(done.id, out / done.id)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompts", nargs="+")
    parser.add_argument("--template", help="a template id (default: upload the example one)")
    parser.add_argument("--out", type=Path, default=Path("outputs"))
    parser.add_argument("--tag", action="append", default=[], help="run only on these tags")
    args = parser.parse_args(argv)
    async with ComfyControl() as cc:
        template = await template_for(cc, args.template)
        results = await asyncio.gather(
            *(run_one(cc, template, p, args.out, args.tag) for p in args.prompts),
            return_exceptions=True,
        )
    failed = 0
    for prompt, result in zip(args.prompts, results, strict=True):
        if isinstance(result, BaseException):
            failed += 1
            print(f"{prompt!r}: {result}", file=sys.stderr)
        else:
            print(f"{prompt!r}: " + ", ".join(str(path) for path in result))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
