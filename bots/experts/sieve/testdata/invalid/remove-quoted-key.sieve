remove 'comment'
