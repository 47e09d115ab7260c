// A trie of domain names by label from the right: which of many domains a host name equals or lies
// below, in as many steps as the host has labels.

interface Node<V> {
  children?: Map<string, Node<V>>;
  values?: V[];
}

/** Lower-case labels of a host name, rightmost first ("www.Example.org." → org, example, www). */
export function reversedLabels(host: string): string[] {
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  return name.toLowerCase().split(".").reverse();
}

export class DomainTrie<V> {
  readonly #root: Node<V> = {};
  #nodes = 1;

  insert(domain: string, value: V): void {
    let node = this.#root;
    for (const label of reversedLabels(domain)) {
      node.children ??= new Map();
      let next = node.children.get(label);
      if (!next) {
        next = {};
        node.children.set(label, next);
        this.#nodes++;
      }
      node = next;
    }
    if (node.values) node.values.push(value);
    else node.values = [value];
  }

  /** Calls `found` for each stored domain that `host` equals or lies below. */
  lookup(host: string, found: (value: V, domain: string) => void): void {
    const labels = reversedLabels(host);
    let node: Node<V> | undefined = this.#root;
    for (let i = 0; i < labels.length && node; i++) {
      node = node.children?.get(labels[i] as string);
      if (node?.values) {
        const domain = labels
          .slice(0, i + 1)
          .reverse()
          .join(".");
        for (const v of node.values) found(v, domain);
      }
    }
  }

  get nodes(): number {
    return this.#nodes;
  }
}
