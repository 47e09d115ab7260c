// Multi-document YAML of the imported resources: a comment above each, destination lists in flow style
// (`_default: [parse-feed]`) as in examples/demo.yaml, long texts never folded.
import { Document, isMap, isSeq } from "yaml";

export interface OutputDocument {
  comment: readonly string[];
  resource: Record<string, unknown>;
}

function render(doc: OutputDocument): string {
  const yaml = new Document(doc.resource);
  const destinations = yaml.getIn(["spec", "destinations"], true);
  if (isMap(destinations)) {
    for (const pair of destinations.items) if (isSeq(pair.value)) pair.value.flow = true;
  }
  const comment = doc.comment.map((line) => (line === "" ? "#\n" : `# ${line}\n`)).join("");
  return comment + yaml.toString({ lineWidth: 0, flowCollectionPadding: false });
}

export function toMultiDocumentYaml(docs: readonly OutputDocument[]): string {
  return docs.map(render).join("---\n");
}
