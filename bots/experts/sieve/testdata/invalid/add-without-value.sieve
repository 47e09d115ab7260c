add comment
